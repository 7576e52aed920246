#include "tracemark/engine/scheme_json.h"

namespace tracemark {

nlohmann::json SchemeInfoJson(const SchemeInfo& info) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : info.params) {
    params.push_back(
        {{"name", p.name}, {"default", p.default_value}, {"description", p.description}});
  }
  return {{"name", info.name},
          {"title", info.title},
          {"reference", info.reference},
          {"access", info.access},
          {"white_box", info.white_box},
          {"black_box", info.black_box},
          {"model_kinds", info.model_kinds},
          {"needs_training_data", info.needs_training_data},
          {"default_code", info.default_code_family},
          {"capacity", info.capacity},
          {"params", params}};
}

}  // namespace tracemark
