# The guest kernel supports sched_ext, no scheduler is loaded, and the
# workload tools used by later cases run to completion.
. /relay/lib/common.sh

expect_file_content /sys/kernel/sched_ext/state disabled
note "sched_ext state: $(cat /sys/kernel/sched_ext/state)"

check "stress-ng --cpu 2 -t 3" stress-ng --cpu 2 -t 3
check "hackbench -g 2 -l 50" hackbench -g 2 -l 50

pass
