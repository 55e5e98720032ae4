"""All file I/O of the merge: the lazy checkpoint reader and the streaming, atomic writer."""

from rv_eval.merge.io.reader import Checkpoint, TensorInfo, open_checkpoint
from rv_eval.merge.io.writer import OutTensor, ShardedWriter, copy_model_files, publish

__all__ = ["Checkpoint", "OutTensor", "ShardedWriter", "TensorInfo", "copy_model_files", "open_checkpoint",
           "publish"]
