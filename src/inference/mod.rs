//! Inference serving beside training: request-rate inputs, latency models,
//! the horizontal pod autoscaler and rolling updates. (Being written.)
