"""Viewers: the widget viewers of each paper (a shared base, one module per paper) and the static plots.

base holds what every viewer shares (image sources, prediction, drawing, the widget skeleton)
and the FashionNet / Liu & Lu attention viewer; dafe, fpm and m2fashion extend it; plots are
the matplotlib figures of the tour and training notebooks.
"""
from fashion_core.viewers.base import attention_grid, attention_viewer, image_source

__all__ = ["attention_grid", "attention_viewer", "image_source"]
