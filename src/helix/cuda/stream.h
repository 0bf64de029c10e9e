// The CUDA stream a stage's work is queued on. Every launch in this module goes to
// the calling thread's launch stream (launch_stream.h): the stream of the innermost
// StreamScope, else the default stream. A stage queues one step's copies and
// kernels on its own stream and waits once, at the end; a steady decode step can
// then be captured into a CUDA graph (graph.h), which the default stream cannot.
#pragma once

namespace helix::cuda {

// A stream of the current device, owned (destroyed when it goes).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* handle() const { return handle_; }  // a cudaStream_t
  // Waits until everything queued so far has run; fails with the first error a
  // kernel ran into.
  void synchronize() const;
  // Waits as synchronize() does after a failed step, whose own error is the one to
  // report: swallows the wait's error, unless it is one that leaves the device
  // unusable, which the failed step then turns out to have been (DeviceFailed).
  void synchronize_after_failure() const;

 private:
  void* handle_ = nullptr;
};

// Makes `stream` the calling thread's launch stream until the scope ends.
class StreamScope {
 public:
  explicit StreamScope(const Stream& stream);
  ~StreamScope();
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  void* previous_;
};

}  // namespace helix::cuda
