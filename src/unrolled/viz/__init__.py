"""Pictures: attention heatmaps, confusion matrices, forecasts with intervals, gradient norms over time.

matplotlib (Agg backend) over arrays; no model is imported here.
"""
