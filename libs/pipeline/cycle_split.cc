#include "libs/pipeline/cycle_split.h"

namespace tailor::pipeline {

absl::string_view CyclePhaseName(CyclePhase phase) {
  switch (phase) {
    case CyclePhase::kPoll:
      return "poll";
    case CyclePhase::kProcess:
      return "process";
    case CyclePhase::kProduce:
      return "produce";
    case CyclePhase::kSeal:
      return "seal";
    case CyclePhase::kWait:
      return "wait";
    case CyclePhase::kCommit:
      return "commit";
    case CyclePhase::kRocksDb:
      return "rocksdb";
    case CyclePhase::kCount:
      break;
  }
  return "unknown";
}

}  // namespace tailor::pipeline
