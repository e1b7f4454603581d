"""Files shipped inside the package: the learned segmenter's weights.

``wmh_unet.onnx`` with ``wmh_unet.onnx.sha256`` (checked on load) and optionally
``wmh_unet.json`` (export metadata; its ``"threshold"`` is used); see
:mod:`b12brain.segment.learned`.
Nothing is downloaded at run time.
"""
