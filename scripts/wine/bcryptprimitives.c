/* A stand-in for Windows' bcryptprimitives.dll, for Wine builds that lack it
 * (Debian 12's Wine 8.0). Rust's std imports ProcessPrng from it for HashMap
 * seeds and random numbers; this one fills the buffer with RtlGenRandom
 * (advapi32's SystemFunction036), which every Wine has. Built by scripts/wine.sh. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  /* RtlGenRandom takes a ULONG length: fill large buffers in pieces. */
  while (length > 0) {
    ULONG piece = length > 0x10000000 ? 0x10000000 : (ULONG)length;
    if (!SystemFunction036(data, piece)) return FALSE;
    data += piece;
    length -= piece;
  }
  return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
  (void)instance;
  (void)reason;
  (void)reserved;
  return TRUE;
}
