import numpy as np
import numpy.typing as npt

def rgb_to_i420(rgb: npt.NDArray[np.uint8], out: npt.NDArray[np.uint8], layout: int) -> None: ...
