// StopStrings: OpenAI's `stop` over streamed text. Text is fed as it is decoded;
// what can be sent to the client is released, and text that might be the start of
// a stop string is held back until the next piece decides it. When a stop string
// appears, the text before it is released and the rest (it included) is dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace helix::runtime {

class StopStrings {
 public:
  // Empty strings are ignored.
  explicit StopStrings(std::vector<std::string> stops);

  // Adds decoded text; returns the text that is now safe to send.
  std::string push(std::string_view text);
  // True once a stop string was seen (push then returns "" forever).
  bool stopped() const { return stopped_; }
  // The end of the generation: whatever is still held back.
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace helix::runtime
