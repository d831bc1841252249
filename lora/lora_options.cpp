#include "lora/lora_options.h"

#include "core/error.h"

namespace tailor::lora {

LoraInit parse_lora_init(const std::string& value) {
  if (value == "true" || value == "default") return LoraInit::kDefault;
  if (value == "gaussian") return LoraInit::kGaussian;
  if (value == "pissa") return LoraInit::kPissa;
  if (value == "false") return LoraInit::kNone;
  throw InputError("init_lora_weights: unknown value '" + value + "', expected true, false, \"gaussian\" or \"pissa\"");
}

std::string lora_init_name(LoraInit init) {
  switch (init) {
    case LoraInit::kDefault: return "true";
    case LoraInit::kGaussian: return "gaussian";
    case LoraInit::kPissa: return "pissa";
    case LoraInit::kNone: return "false";
  }
  return "true";
}

}  // namespace tailor::lora
