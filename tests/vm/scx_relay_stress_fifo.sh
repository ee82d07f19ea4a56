# Real-kernel test 1 with the fifo policy: upstream's stress recipe
# (stress_recipe_case in lib/scx_relay.sh says what is asserted).
. /relay/lib/common.sh
. /relay/lib/scx_relay.sh

stress_recipe_case fifo
