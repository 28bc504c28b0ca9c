import numpy as np
import numpy.typing as npt

def resample_block(
    x: npt.NDArray[np.float32],
    table: npt.NDArray[np.float32],
    pos: float,
    step: float,
    n_out: int,
) -> npt.NDArray[np.float32]: ...
