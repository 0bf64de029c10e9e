// EventQueue: the simulators' event queue, ordered by (time, creation number).
// Most events are scheduled for the current instant (a node starts the next batch,
// a sender looks for an idle link, ...); those go into a FIFO instead of the heap.
// Both hold events in (time, seq) order, so the smaller of their fronts is the
// next event: the order is exactly a single heap's, at a fraction of the sifting.
#pragma once

#include <deque>
#include <queue>
#include <vector>

namespace helix::sim {

// Event needs `double time` and `std::uint64_t seq` (unique, increasing with creation).
template <typename Event>
class EventQueue {
 public:
  // `now` is the current simulated time: an event at exactly `now` is appended to
  // the FIFO (its seq is larger than any queued one's).
  void push(const Event& e, double now) {
    if (e.time == now && (fifo_.empty() || fifo_.back().time == now)) {
      fifo_.push_back(e);
    } else {
      heap_.push(e);
    }
  }
  bool empty() const { return fifo_.empty() && heap_.empty(); }
  const Event& top() const { return from_fifo() ? fifo_.front() : heap_.top(); }
  void pop() {
    if (from_fifo()) {
      fifo_.pop_front();
    } else {
      heap_.pop();
    }
  }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.seq > b.seq;
    }
  };
  bool from_fifo() const {
    if (fifo_.empty()) return false;
    if (heap_.empty()) return true;
    const Event& f = fifo_.front();
    const Event& h = heap_.top();
    return f.time != h.time ? f.time < h.time : f.seq < h.seq;
  }

  std::deque<Event> fifo_;
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
};

}  // namespace helix::sim
