# busy.sh <seconds>: alternate short CPU bursts and 10 ms sleeps for
# <seconds>, then exit 0. A worker that needs the scheduler to run it
# (often, briefly) to finish; run it under `taskset` to pin it.
end=$(($(cut -d. -f1 /proc/uptime) + ${1:-10}))
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
	i=0
	while [ "$i" -lt 2000 ]; do i=$((i + 1)); done
	sleep 0.01
done
exit 0
