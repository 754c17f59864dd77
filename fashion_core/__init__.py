"""fashion_core: models, data loaders, metrics and the trainer behind the workbook."""

__version__ = "0.1.0"
