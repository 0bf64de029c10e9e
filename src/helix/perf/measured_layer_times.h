// Profiles from per-layer times measured on a machine with `helix profile` (a
// directory with prompt_bs2time.csv and decode_bs2time.csv, the paper's table
// format). The measured times replace the first-principles roofline; memory limits
// (layers that fit, KV blocks) still follow from the machine's `vram`, as in
// first_principles.h. Beyond the largest measured batch the tables are extended
// linearly through their last two points (prompt time is linear in tokens once the
// machine is compute bound; decode time in sequences once it is bandwidth bound),
// out to the paper's grids, so the T(k) model can evaluate its typical batches.
// A profile.json in the directory that records the timed layer's shape must match
// the planned model's (else Error naming the field).
#pragma once

#include "helix/perf/first_principles.h"

namespace helix {

// Throws Error naming the file for a missing or malformed table.
GpuProfile measured_layer_profile(const ModelSpec& model, const GpuType& gpu,
                                  const FirstPrinciplesConstants& constants = {});

}  // namespace helix
