"""The `spark-submit` entry point of `cdss batch --engine spark` (cdss/population/spark.py):

    spark-submit --master spark://HOST:7077 "$(python -c 'import cdss.cli.spark_submit as m; print(m.__file__)')" \\
      INPUT... --out DIR --now 2026-12-31
"""

from __future__ import annotations

import sys

from cdss.cli import main

if __name__ == "__main__":
    sys.argv = ["cdss", "batch", *sys.argv[1:], "--engine", "spark"]
    main()
