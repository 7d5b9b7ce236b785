"""What is derived from an engine's records and the model's shapes, without
running anything: memory (inference and a training step), mixture-of-experts
active parameters, roofline arithmetic. Pure functions of their arguments;
no engine state."""
