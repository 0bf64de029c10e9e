#include "helix/tokenize/sentencepiece_training.h"

#include <sentencepiece_trainer.h>

#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "helix/core/error.h"

namespace helix {
namespace {

// Feeds the corpus to the trainer line by line (SentencePiece trains on lines).
class LineIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(std::string_view corpus) {
    std::size_t begin = 0;
    while (begin < corpus.size()) {
      std::size_t end = corpus.find('\n', begin);
      if (end == std::string_view::npos) end = corpus.size();
      if (end > begin) lines_.emplace_back(corpus.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  bool done() const override { return index_ >= lines_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return lines_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::vector<std::string> lines_;
  std::size_t index_ = 0;
};

}  // namespace

void train_sentencepiece_model(std::string_view corpus, int vocab_size, const std::filesystem::path& out_path) {
  if (vocab_size <= 0) fail("{}: vocab_size {} must be positive", out_path.string(), vocab_size);
  LineIterator lines(corpus);
  if (lines.done()) fail("{}: the training corpus is empty", out_path.string());
  const std::unordered_map<std::string, std::string> options = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(vocab_size)},
      {"byte_fallback", "true"},
      {"character_coverage", "1.0"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"},
      {"split_digits", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"hard_vocab_limit", "false"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"num_threads", "1"},
      {"minloglevel", "2"},
  };
  std::string model;
  const sentencepiece::util::Status status = sentencepiece::SentencePieceTrainer::Train(options, &lines, &model);
  if (!status.ok()) fail("{}: SentencePiece training failed: {}", out_path.string(), status.ToString());
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) fail("{}: cannot open for writing", out_path.string());
  out.write(model.data(), static_cast<std::streamsize>(model.size()));
  if (!out) fail("{}: write failed", out_path.string());
}

}  // namespace helix
