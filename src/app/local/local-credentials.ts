/** Emulators accept any credentials; these keep the SDK's credential chain from looking further. */
export const LOCAL_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };
