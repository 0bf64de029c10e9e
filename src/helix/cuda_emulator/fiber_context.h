// Stacks to switch between, for thread_blocks.cpp's emulated GPU threads: a
// context is a place to resume, a fiber's stack of its own, and a switch saves the
// running one and resumes another. On x86-64 a switch saves the callee-saved
// registers only (a few nanoseconds: kernels switch at every shuffle); elsewhere it
// is ucontext's, which also saves the signal mask with a system call.
// AddressSanitizer is told of every switch, so that it follows the stacks (untried:
// the sanitizer build does not build the emulator).
#pragma once

#include <cstddef>
#include <memory>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace helix::cuda_emulator {

struct FiberContext {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc{};
#endif
  const void* stack = nullptr;  // the stack's lowest address, and its size
  std::size_t stack_bytes = 0;
  void* fake_stack = nullptr;   // AddressSanitizer's, while switched out
};

// The calling thread's own context (its stack as the thread has it), to switch
// from into fibers and back.
FiberContext thread_context();

// Prepares `c` to start `entry` (which must never return) on `stack`.
void make_fiber(FiberContext& c, std::byte* stack, std::size_t bytes, void (*entry)());

// Saves the running context in `from` and resumes `to`; returns when something
// switches back to `from`. `from_ends`: `from` will never be resumed.
void switch_fiber(FiberContext& from, FiberContext& to, bool from_ends = false);

// The first thing a fiber's entry does: completes the switch that started it.
void fiber_started();

}  // namespace helix::cuda_emulator
