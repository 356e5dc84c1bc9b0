"""The change history: one row in change_log per change of configuration.

Every section writes through `record_change`, inside the same transaction
as the change itself, so a change is never stored without its history row.
The rows, and the masking of secrets in them, are dialplan's
(``dialplan.change_log``): a rollback restores configuration there and
writes the same rows under the same rule.
"""

from __future__ import annotations

from dialplan.change_log import ACTIONS, MASK, SECRET_FIELDS, masked, record_change

__all__ = ["ACTIONS", "MASK", "SECRET_FIELDS", "masked", "record_change"]
