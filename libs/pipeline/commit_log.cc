#include "libs/pipeline/commit_log.h"

namespace tailor::pipeline {

CommitLog::Seq CommitLog::Open() {
  entries_.emplace_back().seq = next_++;
  return entries_.back().seq;
}

CommitLog::Entry* CommitLog::Find(Seq seq) {
  if (entries_.empty() || seq < entries_.front().seq) return nullptr;
  const Seq index = seq - entries_.front().seq;
  return index < entries_.size() ? &entries_[index] : nullptr;
}

void CommitLog::Produced(Seq seq) {
  if (Entry* e = Find(seq)) ++e->outstanding;
}

void CommitLog::Seal(Seq seq) {
  if (Entry* e = Find(seq)) e->sealed = true;
}

void CommitLog::Delivered(Seq seq, bool ok) {
  Entry* e = Find(seq);
  if (e == nullptr) return;  // from before a Reset()
  --e->outstanding;
  if (!ok) e->failed = true;
}

CommitLog::Head CommitLog::head() const {
  if (entries_.empty()) return Head::kNone;
  const Entry& e = entries_.front();
  if (e.failed) return Head::kFailed;
  return e.sealed && e.outstanding <= 0 ? Head::kDurable : Head::kWaiting;
}

void CommitLog::PopHead() {
  if (!entries_.empty()) entries_.pop_front();
}

}  // namespace tailor::pipeline
