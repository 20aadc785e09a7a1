"""CAM-ready backbones, their checkpoints, and the fine-tuning recipe."""
