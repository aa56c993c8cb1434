#!/usr/bin/env bash
# Runs tailor end to end on the embedded broker: builds (Release), starts
# devbroker, the personalizer and the synthetic-shopper load generator (whose
# shoppers also respond to the decisions they get), shows decisions as they
# happen and a summary, ends with the uplift table of tailor-ops report, then
# stops everything.
#
#   tools/run.sh [--duration=60] [--rate=3000] [--customers=20000]
#                [--time-scale=120] [--partitions=4]
#
# --time-scale makes event time run faster than the wall clock, so that
# abandoned-cart reminders (30 shop minutes) fire within the run; the
# personalizer runs with --time_source=event, so only shop time moves it.
set -euo pipefail

duration=60 rate=3000 customers=20000 time_scale=120 partitions=4
for arg in "$@"; do
  case "$arg" in
    --duration=*) duration="${arg#*=}" ;;
    --rate=*) rate="${arg#*=}" ;;
    --customers=*) customers="${arg#*=}" ;;
    --time-scale=*) time_scale="${arg#*=}" ;;
    --partitions=*) partitions="${arg#*=}" ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/release"
# Only the four programs; the whole output goes to build.log.
"$root/tools/setup.sh" "$build" Release "$build/build.log" \
  personalizer devbroker loadgen tailor-ops

work="$(mktemp -d /tmp/tailor-run.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$build/tools/devbroker/devbroker" --partitions="$partitions" \
  --bootstrap_file="$work/bootstrap" >"$work/devbroker.out" 2>"$work/devbroker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/bootstrap" ]] && break; sleep 0.1; done
[[ -s "$work/bootstrap" ]] || { cat "$work/devbroker.log"; exit 1; }
echo "run: embedded broker up ($(cat "$work/bootstrap"))"

# The built-in rules with a 10% global control group, so that the report's
# last row says what all campaigns together are worth.
{ cat "$root/libs/decide/rules.example.yaml"
  echo "control_group: {percent: 10, salt: run-sh}"; } >"$work/rules.yaml"
"$build/services/personalizer/personalizer" --bootstrap_file="$work/bootstrap" \
  --rules="$work/rules.yaml" --state_dir="$work/state" --http_address=127.0.0.1:0 --time_source=event --print_decisions \
  --print_decisions_per_kind_per_s=3 2>"$work/personalizer.log" &
personalizer=$!
pids+=($personalizer)

# The shoppers also respond to decisions (the closed loop): with these
# probabilities per campaign they open a push or reminder (open), order after
# a SEND (treated, with its coupon if any) or after being held out (base).
respond="abandoned_cart:open=0.35,treated=0.12,base=0.04"
respond+=";browse_abandonment:open=0.25,treated=0.06,base=0.03"
respond+=";*:open=0.2,treated=0.05,base=0.03"

# Shop time starts today at 10:00 in Warsaw, inside everyone's waking hours.
start_ms=$(( $(TZ=Europe/Warsaw date -d "today 10:00" +%s) * 1000 ))
"$build/tools/loadgen/loadgen" --bootstrap_file="$work/bootstrap" \
  --rate="$rate" --duration="${duration}s" --customers="$customers" \
  --time_scale="$time_scale" --start_ms="$start_ms" --malformed_percent=0.2 \
  --respond="$respond" --respond_open_after=5m --respond_order_after=20m \
  >"$work/loadgen.out" 2>"$work/loadgen.log" &
loadgen=$!
pids+=($loadgen)
echo "run: load generator: $rate events/s for ${duration}s, $customers shoppers, shop time x$time_scale"

wait "$loadgen" || { echo "run: loadgen failed"; cat "$work/loadgen.log"; exit 1; }
malformed=$(sed -n 's/.* malformed=\([0-9]*\).*/\1/p' "$work/loadgen.out")
sed 's/^/run: /' "$work/loadgen.out"
echo "run: the ${malformed:-0} malformed events are sent on purpose (--malformed_percent=0.2): they are the dead letters"
sleep 2  # let the personalizer drain what is in flight
kill -TERM "$personalizer"
wait "$personalizer" || { echo "run: personalizer failed"; tail -20 "$work/personalizer.log"; exit 1; }
grep -E "error|refusing" "$work/personalizer.log" | head -5 || true

# What the campaigns were worth: the uplift table of tailor-ops report
# (README, "Measuring"), from the decisions log and the outcomes topic.
echo "run: what the campaigns were worth (tailor-ops report):"
"$build/tools/ops/tailor-ops" report --bootstrap_file="$work/bootstrap" \
  2>"$work/report.log" || { echo "run: report failed"; cat "$work/report.log"; exit 1; }

