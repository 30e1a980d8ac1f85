"""The forecasting task: ``unrolled train forecast``, ``forecast``, ``impute``, ``evaluate``, ``predict``, ``info``."""
