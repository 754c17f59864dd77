"""Viewers: the widget viewers of each paper (one shared base, one module per paper), their static grids, and plots.

base holds what every widget viewer shares (image sources, prediction, the widget skeleton
`ImageViewer`) and drawing the panels they draw alike; landmarks (FashionNet / Liu & Lu), dafe,
fpm and m2fashion each extend the base with their own controls and panels; gallery lays the
trained models' panels side by side for the reproduction report; plots are the matplotlib
figures of the tour and training notebooks.
"""
from fashion_core.viewers.base import image_source
from fashion_core.viewers.landmarks import attention_grid, attention_viewer

__all__ = ["attention_grid", "attention_viewer", "image_source"]
