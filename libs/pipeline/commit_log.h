// File: commit_log.h
// The numbered commits between "produced" and "durable", as a state machine
// with no I/O, so the commit order can be tested without a broker.
//
// A commit opens when a cycle first produces or consumes something; every
// message produced until it is sealed carries its number. Delivery reports
// count it down. The oldest commit is durable when it is sealed and all of
// its messages are delivered; the shell then writes its RocksDB batch
// (profiles, timers, offsets) and pops it. Commits become durable strictly
// in order, so a commit is written only after every earlier one. A failed
// delivery stops the line: the head reports kFailed and the shell rewinds
// the input to the last written state; reports for commits from before the
// Reset() are ignored.
//
//   Open(n) ─► Produced(n) x k ─► Seal(n) ─► Delivered(n) x k ─► head
//   durable ─► PopHead()
//
// Owned by the Pipeline; used from the pipeline thread only.
#ifndef TAILOR_LIBS_PIPELINE_COMMIT_LOG_H_
#define TAILOR_LIBS_PIPELINE_COMMIT_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>

namespace tailor::pipeline {

class CommitLog {
 public:
  using Seq = uint64_t;
  enum class Head { kNone, kWaiting, kDurable, kFailed };

  // Opens the next commit and returns its number (1, 2, ...). The previous
  // one must be sealed.
  Seq Open();
  bool has_open() const { return !entries_.empty() && !entries_.back().sealed; }
  Seq open_seq() const { return entries_.back().seq; }

  // One more message of commit `seq` is in flight.
  void Produced(Seq seq);
  // Commit `seq` has all of its messages.
  void Seal(Seq seq);
  // A delivery report for a message of commit `seq`.
  void Delivered(Seq seq, bool ok);

  // The state of the oldest commit not yet popped.
  Head head() const;
  Seq head_seq() const { return entries_.front().seq; }
  // The head's state is written (head() was kDurable).
  void PopHead();

  // Commits not yet popped, the open one included.
  size_t in_flight() const { return entries_.size(); }
  // Forgets every commit (after a rewind); numbering goes on, so late
  // reports of forgotten commits are ignored.
  void Reset() { entries_.clear(); }

 private:
  struct Entry {
    Seq seq = 0;
    int64_t outstanding = 0;
    bool sealed = false;
    bool failed = false;
  };
  Entry* Find(Seq seq);

  std::deque<Entry> entries_;
  Seq next_ = 1;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_COMMIT_LOG_H_
