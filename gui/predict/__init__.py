"""The Predict tab (:mod:`gui.predict.tab`) and the widgets only it uses: the image list, the
per-image prediction view with its probability bars and Grad-CAM, the results table."""
