# Exact commands that produced pinozcam_klipper/models/pinozcam-det.* (from the repository root).
python3.11 -m venv training/.venv && training/.venv/bin/pip install -r training/requirements.txt
training/.venv/bin/python -m training.model            # port check: Keras == PyTorch features
# Two sets from generator version 1 and one from version 2, all labelled with clump tiles.
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth4 --seed 4 --version 1
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth5 --seed 5 --version 1
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth7 --seed 7 --version 2
for d in synth4 synth5 synth7; do training/.venv/bin/python -m training.features --data training/data/$d; done
training/.venv/bin/python -m training.train --data training/data/synth4 training/data/synth5 training/data/synth7 --run training/runs/e2 --epochs 5
# The operating point of the float model on real-dev (evaluation only): blob and detached, which
# real-dev cannot measure, get -2 raw logits so they need stronger evidence than spaghetti.
training/.venv/bin/python -m training.evaluate --data /work/shared/data/real-dev --weights training/runs/e2/ema.weights.h5 --class-offset blob=-2 --class-offset detached=-2 --out artifacts/eval-float
# -> operating_point.threshold 0.6163. Export mapping it to the default preset's 0.94, evaluate
# the int8 model, and move the anchor by what quantisation shifted (int8 operating point 0.9447
# -> raw 0.6214), so that the shipped default sits on the int8 model's operating point:
training/.venv/bin/python -m training.export --run training/runs/e2 --calib training/data/synth5 --calib-count 200 --score-gain 4 --anchor 0.6163 0.94 --class-offset blob=-2 --class-offset detached=-2 --out /tmp/export
.venv/bin/python -m training.evaluate --data /work/shared/data/real-dev --model /tmp/export/pinozcam-det.tflite --out /tmp/eval-int8
training/.venv/bin/python -m training.export --run training/runs/e2 --calib training/data/synth5 --calib-count 200 --score-gain 4 --anchor 0.6214 0.94 --class-offset blob=-2 --class-offset detached=-2 --out /tmp/export
.venv/bin/python -m training.evaluate --data /work/shared/data/real-dev --model /tmp/export/pinozcam-det.tflite --out artifacts/eval
training/.venv/bin/python -m training.export --run training/runs/e2 --calib training/data/synth5 --calib-count 200 --score-gain 4 --anchor 0.6214 0.94 --class-offset blob=-2 --class-offset detached=-2 --eval artifacts/eval/report.json --note "datasets=synth4 (seed 4, v1) + synth5 (seed 5, v1) + synth7 (seed 7, v2), 16000 each, clump tiles"
.venv/bin/python -m training.card --eval artifacts/eval --commands training/REPRODUCE.sh
# The demo print still comes from generator version 1 (unchanged frames):
training/.venv/bin/python -m training.demo --out pinozcam_klipper/demo
