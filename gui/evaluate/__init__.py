"""The Evaluate tab (:mod:`gui.evaluate.tab`) and the widgets only it uses: the confusion
matrix and the gallery of most confident mistakes."""
