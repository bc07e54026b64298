"""xlt: cross-lingual transfer learning, from one config to an honest report."""
__version__ = "0.1.0"

from xlt.config import Experiment, load_config  # noqa: E402
from xlt.protocol import check_experiment, run_experiment  # noqa: E402

__all__ = ["Experiment", "check_experiment", "load_config", "run_experiment", "__version__"]
