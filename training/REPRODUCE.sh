# Exact commands that produced pinozcam_klipper/models/pinozcam-det.* (from the repository root).
python3.11 -m venv training/.venv && training/.venv/bin/pip install -r training/requirements.txt
training/.venv/bin/python -m training.model            # port check: Keras == PyTorch features
# Two sets from generator version 1, one from version 2, two from version 3 and one from
# version 4, all labelled with clump tiles (the images do not depend on the labelling).
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth4 --seed 4 --version 1
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth5 --seed 5 --version 1
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth7 --seed 7 --version 2
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth8 --seed 8 --version 3
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth9 --seed 9 --version 3
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth10 --seed 10 --version 4
for d in synth4 synth5 synth7 synth8 synth9 synth10; do training/.venv/bin/python -m training.features --data training/data/$d; done
training/.venv/bin/python -m training.train --data training/data/synth4 training/data/synth5 training/data/synth7 training/data/synth8 training/data/synth9 training/data/synth10 --run training/runs/e6 --epochs 5
# The operating point of the float model on real-dev (evaluation only): blob and detached, which
# real-dev cannot measure, get -2 raw logits so they need stronger evidence than spaghetti.
training/.venv/bin/python -m training.evaluate --data /work/shared/data/real-dev --weights training/runs/e6/ema.weights.h5 --class-offset blob=-2 --class-offset detached=-2 --out artifacts/eval-float
# -> operating_point.threshold 0.66384. Exported with --anchor 0.66384 0.94 (shift 0.030), the
# int8 model's own operating point came out at 0.9314, below the preset's 0.94; the shift was
# raised by logit(0.94) - logit(0.9314) = 0.143 to 0.173, which puts it at 0.933 (one int8
# output level below 0.94: the last normal frame it must reject scores 0.927):
training/.venv/bin/python -m training.export --run training/runs/e6 --calib training/data/synth5 --calib-count 200 --score-gain 4 --score-shift 0.173 --class-offset blob=-2 --class-offset detached=-2 --out /tmp/export
.venv/bin/python -m training.evaluate --data /work/shared/data/real-dev --model /tmp/export/pinozcam-det.tflite --out artifacts/eval
training/.venv/bin/python -m training.export --run training/runs/e6 --calib training/data/synth5 --calib-count 200 --score-gain 4 --score-shift 0.173 --class-offset blob=-2 --class-offset detached=-2 --eval artifacts/eval/report.json --note "datasets=synth4 (seed 4, v1) + synth5 (seed 5, v1) + synth7 (seed 7, v2) + synth8 (seed 8, v3) + synth9 (seed 9, v3) + synth10 (seed 10, v4), 16000 each, clump tiles"
.venv/bin/python -m training.card --eval artifacts/eval --commands training/REPRODUCE.sh
# The demo print still comes from generator version 1 (unchanged frames):
training/.venv/bin/python -m training.demo --out pinozcam_klipper/demo
