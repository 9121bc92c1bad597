"""Controllers: connect the views' signals to the core through worker lanes, and feed results back."""
