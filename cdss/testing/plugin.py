"""Testing kit: pytest plugin (registered as the `cdss` pytest11 entry point).

Registers the hypothesis profiles `dev` and `ci` (derandomised, more examples) and selects `ci` when
the CI environment variable is set, or the profile named by CDSS_HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=120, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("CDSS_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
