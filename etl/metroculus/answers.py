"""What a tenant-day's extract is: query name -> frame of its label columns and `value`.

Apart from the query set so that the cost model can name it without importing the
PromQL client.
"""

from __future__ import annotations

import pandas as pd

Answers = dict[str, pd.DataFrame]
