"""A micro CLIP pretrained on a procedural image world, and a base-to-new benchmark on it.

``python -m vamp_prompt.micro prepare`` pretrains (once, cached) a 4.4M-parameter CLIP with the
real openai-clip architecture on shapes x colours x patterns, and writes the MicroShapes dataset
in the CoOp layout; ``bash scripts/vamp/micro_benchmark.sh`` runs zero-shot CLIP and the four
ablation rows on it. Accuracies here say nothing about real images: they show that training
learns, and how VaMP's parts act, on a world small enough for a CPU.
"""
