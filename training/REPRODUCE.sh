# Exact commands that produced pinozcam_klipper/models/pinozcam-det.* (from the repository root).
python3.11 -m venv training/.venv && training/.venv/bin/pip install -r training/requirements.txt
training/.venv/bin/python -m training.model            # port check: Keras == PyTorch features
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth4 --seed 4
training/.venv/bin/python -m training.generate --count 16000 --out training/data/synth5 --seed 5
training/.venv/bin/python -m training.features --data training/data/synth4
training/.venv/bin/python -m training.features --data training/data/synth5
training/.venv/bin/python -m training.train --data training/data/synth4 training/data/synth5 --run training/runs/final --epochs 8
# Export with the score calibration that puts the real-dev operating point (raw score ~0.69, at most
# 2 % false alarms) at the engine's default preset (webcam: score 0.94, sensitivity 0.03):
training/.venv/bin/python -m training.export --run training/runs/final --calib training/data/synth5 --calib-count 200 --score-gain 4 --score-shift -0.55 --out /tmp/export --note "datasets=synth4 (seed 4, 16000) + synth5 (seed 5, 16000)"
.venv/bin/python -m training.evaluate --data /work/shared/data/real-dev --model /tmp/export/pinozcam-det.tflite --out artifacts/eval
training/.venv/bin/python -m training.export --run training/runs/final --calib training/data/synth5 --calib-count 200 --score-gain 4 --score-shift -0.55 --eval artifacts/eval/report.json --note "datasets=synth4 (seed 4, 16000) + synth5 (seed 5, 16000)"
.venv/bin/python -m training.card --eval artifacts/eval --commands training/REPRODUCE.sh
training/.venv/bin/python -m training.demo --out pinozcam_klipper/demo
