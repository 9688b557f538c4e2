#!/bin/bash
# scripts/bench.sh — what the native driver, revirt.ko, costs against
# kvm_amd, in one run of the lab (scripts/lab.sh bench): one L1, three
# configurations, round by round (tests/lab/cases/bench):
#
#   native  -accel revirt,driver=native   revirt.ko loaded for the run
#   noirq   -accel kvm,kernel-irqchip=off kvm_amd, revirt.ko unloaded
#   kvm     -accel kvm                    kvm_amd, in-kernel irqchip
#
# Each round runs, in each configuration, the benchmark firmware
# (tests/revirt-guests/bench.S), which times with RDTSC:
#   pio         an OUT to port 0x80, µs per exit;
#   mmio-read   a read of the HPET's ID register, µs per exit;
#   mmio-write  a write to it, µs per exit;
#   hlt         a wake-up by the local APIC timer: TMICT write, STI;HLT,
#               interrupt, EOI, µs per round trip;
#   compute     an arithmetic loop with no exit, ms for all of it;
# and boots the lab's L2 Linux:
#   boot        QEMU's start in L1 to the L2's /init, s (the lab's
#               boot_s, timestamped on this host as the lines arrive).
# The guest's TSC ticks at L1's rate (no TSC scaling), which L1's kernel
# reports ("tsc: Refined TSC clocksource calibration").
#
# Prints the lab's own lines, then one line per measurement and
# configuration, the ratios, and a summary:
#   BENCH pio config=native accel=revirt,driver=native median=... min=... unit=... n=... values=...
#   BENCH ratio pio native/noirq=... native/kvm=... min_native/noirq=... min_native/kvm=...
#   BENCH summary native/noirq,native/kvm: pio=.../... ... (the median ratios)
# Medians and minimums over the rounds; a ratio is that of the medians
# (min_: of the minimums, the runs least disturbed).  LAB_REEVAL=LOGS
# prints the figures of an earlier run again, booting nothing.  Exits
# as the lab does: non-zero if a run failed, 77 if the lab cannot run.
# scripts/bench.sh CASESET runs another case set of the same shape.
# Environment: as scripts/lab.sh's (LAB, QEMU_L0, QEMU_L1, L2_TIMEOUT ...).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T0=$(date +%s)
# a bench run takes about 15 s, a boot 25 s: a hang need not wait 240 s
export L2_TIMEOUT=${L2_TIMEOUT:-120}
CONFIGS="native noirq kvm"
MEASURES="pio mmio-read mmio-write hlt compute boot"

median() { sort -n | awk '{v[NR]=$1} END {if (NR) printf "%.2f", NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; else printf "-"}'; }
minimum() { sort -n | awk 'NR == 1 {m = $1} END {if (NR) printf "%.2f", m; else printf "-"}'; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
scripts/lab.sh "${1:-bench}" | tee "$out" || rc=$?
[ "$rc" != 77 ] || exit 77
logs=$(sed -n 's/^LAB summary .* logs=\([^ ]*\).*/\1/p' "$out")
[ -n "$logs" ] || { echo "bench: the lab printed no summary" >&2; exit 1; }
case $logs in /*) ;; *) logs=$ROOT/$logs ;; esac
runs=$logs/runs

mhz=$(cat "$logs"/l1-boot*.console | sed -n \
    -e 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' \
    -e 's/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | tail -1)
[ -n "$mhz" ] || { echo "bench: no TSC rate in L1's console" >&2; exit 1; }

# samples: "MEASURE CONFIG VALUE" for every run that finished well.
samples() {
    local f cfg tag name n tsc
    for f in "$runs"/exit-*.out; do
        [ -f "$f" ] || continue
        cfg=${f##*/exit-}; cfg=${cfg%%.*}
        if ! grep -q ' CHECK done$' "$f" || grep -q ' FAIL$' "$f"; then continue; fi
        sed -n 's/.* INFO bench interrupts-before-hlt=\([0-9a-f]*\)$/\1/p' "$f" |
            while read -r n; do echo "hlt-early $cfg $((16#$n))"; done
        while read -r _ tag name n tsc; do
            [ "$tag" = BENCH ] || continue
            n=$((16#${n#n=})); tsc=$((16#${tsc#tsc=}))
            if [ "$name" = compute ]; then
                awk -v t="$tsc" -v m="$mhz" -v c="$cfg" 'BEGIN {printf "compute %s %.3f\n", c, t / m / 1000}'
            else
                awk -v t="$tsc" -v n="$n" -v m="$mhz" -v c="$cfg" -v x="$name" \
                    'BEGIN {printf "%s %s %.3f\n", x, c, t / n / m}'
            fi
        done < "$f"
    done
    for f in "$runs"/boot-*.out; do
        [ -f "$f" ] || continue
        cfg=${f##*/boot-}; cfg=${cfg%%.*}
        awk -v c="$cfg" '$3 == "RUN-START" {t = $1}
            / L2-INIT start/ && t != "" {printf "boot %s %.2f\n", c, $1 - t; exit}' "$f"
    done
}
samples > "$logs/bench.samples"

declare -A MED MIN
for m in $MEASURES; do
    case $m in compute) unit=ms ;; boot) unit=s ;; hlt) unit=us-per-wakeup ;; *) unit=us-per-exit ;; esac
    for c in $CONFIGS; do
        vals=$(awk -v m="$m" -v c="$c" '$1 == m && $2 == c {print $3}' "$logs/bench.samples")
        MED[$m.$c]=$(echo "$vals" | grep . | median || true)
        MIN[$m.$c]=$(echo "$vals" | grep . | minimum || true)
        case $c in native) a='revirt,driver=native' ;; noirq) a='kvm,kernel-irqchip=off' ;; *) a=kvm ;; esac
        extra=
        [ "$m" != hlt ] || extra=" before_hlt=$(awk -v c="$c" '$1 == "hlt-early" && $2 == c {s += $3} END {print s + 0}' "$logs/bench.samples")"
        echo "BENCH $m config=$c accel=$a median=${MED[$m.$c]} min=${MIN[$m.$c]} unit=$unit n=$(echo "$vals" | grep -c . || true)$extra values=$(echo "$vals" | paste -sd, -)"
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-"}'; }
summary=
for m in $MEASURES; do
    r1=$(ratio "${MED[$m.native]}" "${MED[$m.noirq]}")
    r2=$(ratio "${MED[$m.native]}" "${MED[$m.kvm]}")
    echo "BENCH ratio $m native/noirq=$r1 native/kvm=$r2" \
        "min_native/noirq=$(ratio "${MIN[$m.native]}" "${MIN[$m.noirq]}")" \
        "min_native/kvm=$(ratio "${MIN[$m.native]}" "${MIN[$m.kvm]}")"
    summary+=" $m=$r1/$r2"
done
lab=$(grep '^LAB summary' "$out")
echo "BENCH summary native/noirq,native/kvm:$summary tsc_mhz=$mhz" \
    "failed=$(echo "$lab" | sed -n 's/.* failed=\([0-9]*\).*/\1/p')" \
    "l1_boots=$(echo "$lab" | sed -n 's/.* l1_boots=\([0-9]*\).*/\1/p')" \
    "wall_s=$(( $(date +%s) - T0 )) logs=${logs#"$ROOT"/}"
exit "$rc"
