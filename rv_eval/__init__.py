"""rv-eval: an evaluation harness for reasoning vectors (θ_target + α·(θ_post − θ_pre))."""

__version__ = "0.1.0"
