// The life of a node as the coordinator sees it (docs/design.md, "Elastic serving").
#pragma once

namespace helix::runtime {

enum class NodeState {
  Absent,    // never joined, or removed by the operator
  Joined,    // said Hello before the first placement was complete; waits for the others
  Loading,   // sent its layers; no Ready yet
  Ready,     // serving its layers
  Draining,  // finishing what it has in flight; nothing new is routed to it
  Drained,   // holds no layers; stands by (joined with none, or drained)
  Gone,      // lost (silent, connection closed, corrupt message); may re-join
};

inline const char* state_name(NodeState s) {
  switch (s) {
    case NodeState::Absent: return "absent";
    case NodeState::Joined: return "joined";
    case NodeState::Loading: return "loading";
    case NodeState::Ready: return "ready";
    case NodeState::Draining: return "draining";
    case NodeState::Drained: return "drained";
    case NodeState::Gone: return "gone";
  }
  return "?";
}

}  // namespace helix::runtime
