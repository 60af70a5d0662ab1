// Wasm exception handling's unwinder glue for the pthread build, replacing libunwind's Unwind-wasm.c from
// emscripten 3.1.6's libunwind-mt-except. Why: clang 14 (Debian's emscripten) stores the landing-pad context
// (landing pad index, LSDA) into a plain global `__wasm_lpad_context`, while emscripten's -mt libunwind declares it
// thread_local (a later clang makes its side thread-local too). The personality routine then read another copy, found
// no handler, and every C++ exception in the pthread build escaped to JS as a WebAssembly.Exception (measured:
// a throw/catch of std::invalid_argument under -pthread -fwasm-exceptions). Defining the context as the plain
// global clang 14 writes, in an object linked ahead of the library, makes catch work again.
// Limitation (inherent to clang 14's code generation): two threads unwinding at the same moment would share the
// context. The engine throws on the JS thread (argument checks); pool threads rarely throw (allocation failure).
#include <stdint.h>
#include <unwind.h>

struct LandingPadContext {
  uintptr_t lpad_index;  // in: which landing pad of the function
  uintptr_t lsda;        // in: the function's language-specific data area
  uintptr_t selector;    // out: the matching catch clause, set by the personality routine
};

struct LandingPadContext __wasm_lpad_context;

_Unwind_Reason_Code __gxx_personality_wasm0(int version, _Unwind_Action actions, uint64_t exception_class,
                                            struct _Unwind_Exception* exception, struct _Unwind_Context* context);

// Called from each catch landing pad: wasm has no search phase, the cleanup phase picks the handler.
_Unwind_Reason_Code _Unwind_CallPersonality(void* exception_ptr) {
  struct _Unwind_Exception* e = (struct _Unwind_Exception*)exception_ptr;
  __wasm_lpad_context.selector = 0;
  return __gxx_personality_wasm0(1, _UA_CLEANUP_PHASE, e->exception_class, e,
                                 (struct _Unwind_Context*)&__wasm_lpad_context);
}

_Unwind_Reason_Code _Unwind_RaiseException(struct _Unwind_Exception* e) {
  __builtin_wasm_throw(0, e);  // tag 0: the C++ exception tag
}

void _Unwind_DeleteException(struct _Unwind_Exception* e) {
  if (e->exception_cleanup) e->exception_cleanup(_URC_FOREIGN_EXCEPTION_CAUGHT, e);
}

// The personality routine reports the selector through register 1.
void _Unwind_SetGR(struct _Unwind_Context* c, int index, uintptr_t value) {
  if (index == 1) ((struct LandingPadContext*)c)->selector = value;
}

// The personality routine subtracts one and uses the result as a 1-based call-site index.
uintptr_t _Unwind_GetIP(struct _Unwind_Context* c) { return ((struct LandingPadContext*)c)->lpad_index + 2; }

void _Unwind_SetIP(struct _Unwind_Context* c, uintptr_t value) { (void)c, (void)value; }

uintptr_t _Unwind_GetLanguageSpecificData(struct _Unwind_Context* c) { return ((struct LandingPadContext*)c)->lsda; }

uintptr_t _Unwind_GetRegionStart(struct _Unwind_Context* c) { (void)c; return 0; }
