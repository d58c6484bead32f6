"""Training tools for the shipped detector (never installed on printers).

``python -m training.generate`` renders synthetic scenes, ``python -m training.train`` trains the
detector on them, ``python -m training.export`` writes ``pinozcam_klipper/models/pinozcam-det.*``
and ``python -m training.evaluate`` measures it on a real YOLO set.
"""
