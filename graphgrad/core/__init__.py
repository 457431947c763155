"""The engine: Tensors, the recording of ops, and the backward pass (docs/design.md
draws the layout). Nothing is imported here, so each module can be imported on its own."""
