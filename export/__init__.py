"""Keras -> TFLite / ONNX conversion, quantization and verification (``fmnistedge.export``).

One module per conversion, named source-to-target (``keras2tflite``, ``keras2onnx``,
``onnx2int8``), behind the typed table in :mod:`fmnistedge.formats`;
:mod:`fmnistedge.export.pipeline` runs them and :mod:`fmnistedge.export.verify`
proves each file with the engine that will run it.
"""
