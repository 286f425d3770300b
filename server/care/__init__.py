"""Care between visits: patients, plans of care, outcome questionnaires, the exercise log."""
