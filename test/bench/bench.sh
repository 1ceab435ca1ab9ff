#!/bin/sh
# bench.sh - make bench: images/s of the reference networks in nn and, where
# PyTorch is installed, in PyTorch on the identical network, batch and
# thread count. A table for people on stderr, TSV on stdout.
#
#   bench.sh BENCH_BINARY [THREADS [DEVICE]]
# DEVICE: cpu (default), cuda or auto (the GPU where there is one); a
# device nn cannot run on stops the bench with the reason. On the GPU both
# run in float32 without TF32, and the memory columns are device memory.
# PyTorch runs twice per row, as it comes and with OPENBLAS_NUM_THREADS=1
# (its OpenMP threads and OpenBLAS's own collide), and the faster counts;
# nn runs before and after them, and the faster counts, so that a shared
# machine's load changing during a row weighs on both sides alike.
# SECONDS (default 6) is the timing budget per measurement.
bin=$1
threads=${2:-2}
device=${3:-cpu}
device=$("$bin" --device "$device") || exit 1
secs=${SECONDS_PER_ROW:-6}
cd "$(dirname "$0")/../.." || exit 1
torch=
for py in /usr/bin/python3 python3; do
    if "$py" -c 'import torch' 2>/dev/null; then torch=$py; break; fi
done
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
where="$cpu, $threads threads"
if [ "$device" = cuda ]; then
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
    where="GPU ${gpu:-(nvidia-smi not found)}"
    [ -n "$torch" ] && ! "$torch" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null && torch=
fi
echo "# nn bench: $where${torch:+, PyTorch $("$torch" -c 'import torch; print(torch.__version__)')}" >&2
printf 'network\tinput\tbatch\tmode\tnn_img_s\tnn_peak_mib\ttorch_img_s\ttorch_peak_mib\tratio\n'
printf '%-8s %-10s %5s %-6s %10s %8s %10s %8s %6s\n' network input batch mode nn_img/s nn_MiB torch_img/s torch_MiB ratio >&2
nn_run() {
    NN_BENCH_DEVICE=$device NN_THREADS=$threads OMP_NUM_THREADS=$threads "$bin" "data/arch/$net.nn" "$input" "$batch" "$mode" "$secs"
}
while read -r net input batch mode; do
    case "$net" in ''|'#'*) continue ;; esac
    r=$(nn_run) || r="0	-"
    t_ips=- t_mem=- ratio=-
    if [ -n "$torch" ]; then
        a=$("$torch" test/bench/bench_torch.py "data/arch/$net.nn" "$input" "$batch" "$mode" "$threads" "$secs" "$device" 2>/dev/null) || a="0	-"
        b=$(OPENBLAS_NUM_THREADS=1 "$torch" test/bench/bench_torch.py "data/arch/$net.nn" "$input" "$batch" "$mode" "$threads" "$secs" "$device" 2>/dev/null) || b="0	-"
        best=$(printf '%s\n%s\n' "$a" "$b" | sort -t '	' -k1,1 -g -r | head -n 1)
        t_ips=${best%%	*} t_mem=${best#*	}
        r2=$(nn_run) || r2="0	-"
        r=$(printf '%s\n%s\n' "$r" "$r2" | sort -t '	' -k1,1 -g -r | head -n 1)
    fi
    nn_ips=${r%%	*} nn_mem=${r#*	}
    [ "$nn_ips" = 0 ] && nn_ips=-
    if [ -n "$torch" ]; then
        ratio=$(awk -v a="$nn_ips" -v b="$t_ips" 'BEGIN { if (b > 0 && a + 0 > 0) printf "%.2f", a / b; else print "-" }')
    fi
    name=$net; [ "$input" = 3x64x64 ] && name=cnn4-64; [ "$input" = 3x224x224 ] && [ "$net" = cnn4 ] && name=cnn4-224
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$input" "$batch" "$mode" "$nn_ips" "$nn_mem" "$t_ips" "$t_mem" "$ratio"
    printf '%-8s %-10s %5s %-6s %10s %8s %10s %8s %6s\n' "$name" "$input" "$batch" "$mode" "$nn_ips" "$nn_mem" "$t_ips" "$t_mem" "$ratio" >&2
done <<'ROWS'
fmnist 1x28x28 64 train
fmnist 1x28x28 64 infer
mlp6 1x28x28 100 train
mlp6 1x28x28 100 infer
cnn4 3x64x64 32 train
cnn4 3x64x64 32 infer
cnn4 3x224x224 10 train
cnn4 3x224x224 10 infer
vgg16 3x224x224 8 infer
vgg16 3x224x224 1 vis
ROWS
