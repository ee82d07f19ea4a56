# reliability_rt_pressure with the wakeup fast path on (--fast-path): the
# dispatcher places granted wakeups itself, on CPUs that a higher class may
# take the next moment. With it, the case was ejected in 2 of 5 runs before
# no CPU went idle with a task of ours counted on its runqueue (see
# keep_ext_server in main.bpf.c).
RT_PRESSURE_ARGS=--fast-path
. /relay/reliability_rt_pressure.sh
