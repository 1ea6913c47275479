"""The Train tab (:mod:`gui.train.tab`) and the widgets only it uses: the configuration form
and its field table, the data and model pickers, the schedule preview, run progress, live curves."""
