"""The speed layer: documents laid out once and stamped with each variant's texts."""
