#include "helix/cuda_emulator/fiber_context.h"

#include <pthread.h>

#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define HELIX_FIBERS_UNDER_ASAN 1
#endif

#if defined(__x86_64__)
// helix_emulator_switch(&from->sp, to->sp): pushes the callee-saved registers,
// saves the stack pointer, loads the other and pops what it pushed when it was
// saved. The float control words are not switched: every fiber runs on the thread
// that started it, and no kernel changes a rounding mode.
extern "C" void helix_emulator_switch(void** from, void* to);
// A switch returns into another stack with `ret`, which CET's shadow stacks would
// refuse; the build does not mark its binaries for them.
asm(R"(
  .pushsection .text
  .p2align 4
  .globl helix_emulator_switch
  .hidden helix_emulator_switch
  .type helix_emulator_switch, @function
helix_emulator_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size helix_emulator_switch, .-helix_emulator_switch
  .popsection
)");
#endif

namespace helix::cuda_emulator {

FiberContext thread_context() {
  FiberContext c;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* low = nullptr;
    std::size_t bytes = 0;
    if (pthread_attr_getstack(&attr, &low, &bytes) == 0) {
      c.stack = low;
      c.stack_bytes = bytes;
    }
    pthread_attr_destroy(&attr);
  }
  return c;
}

void make_fiber(FiberContext& c, std::byte* stack, std::size_t bytes, void (*entry)()) {
  c.stack = stack;
  c.stack_bytes = bytes;
  c.fake_stack = nullptr;
#if defined(HELIX_FIBERS_UNDER_ASAN)
  // A stack given up mid-kernel (a failed block) keeps its frames' redzones: a
  // fresh fiber on it must not find them.
  __asan_unpoison_memory_region(stack, bytes);
#endif
#if defined(__x86_64__)
  // The frame helix_emulator_switch pops: six registers, then `entry` as the return
  // address, above it a null one (entry's caller), so that entry starts with the
  // stack aligned as after a call.
  const auto top = reinterpret_cast<std::uintptr_t>(stack + bytes) & ~std::uintptr_t{15};
  auto* frame = reinterpret_cast<std::uint64_t*>(top) - 8;
  for (int i = 0; i < 6; ++i) frame[i] = 0;  // r15, r14, r13, r12, rbx, rbp
  frame[6] = reinterpret_cast<std::uint64_t>(entry);
  frame[7] = 0;
  c.sp = frame;
#else
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = bytes;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
#endif
}

void switch_fiber(FiberContext& from, FiberContext& to, [[maybe_unused]] bool from_ends) {
#if defined(HELIX_FIBERS_UNDER_ASAN)
  __sanitizer_start_switch_fiber(from_ends ? nullptr : &from.fake_stack, to.stack, to.stack_bytes);
#endif
#if defined(__x86_64__)
  helix_emulator_switch(&from.sp, to.sp);
#else
  swapcontext(&from.uc, &to.uc);
#endif
#if defined(HELIX_FIBERS_UNDER_ASAN)
  __sanitizer_finish_switch_fiber(from.fake_stack, nullptr, nullptr);
#endif
}

void fiber_started() {
#if defined(HELIX_FIBERS_UNDER_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

}  // namespace helix::cuda_emulator
